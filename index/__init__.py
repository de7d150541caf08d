"""The search index: chunking, embedding, backends and queries."""
