"""Discovery and fetching: sources -> URLs -> bytes, politely and safely (Scrapy's shape)."""
