"""Prefect flows: orchestration only. Stages live in crawl/, extractors/, classify/, index/."""
