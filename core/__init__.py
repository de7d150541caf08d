"""The plain data model shared by every stage (Scrapy's items, Haystack's Document)."""
