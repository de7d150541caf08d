# The hub's image: the CLI, the flows and the packaged model. Build context: the repository root.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 EVIDENCE_HUB_HOME=/data
# tesseract-ocr: OCR of image-only PDFs when extraction.ocr is true
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY core ./core
COPY crawl ./crawl
COPY extractors ./extractors
COPY classify ./classify
COPY index ./index
COPY flows ./flows
COPY cli ./cli
COPY demo ./demo
COPY api ./api
RUN pip install .
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["evidence-hub"]
CMD ["--help"]
