"""classify-text: ``labnb run classify`` with the sentiment label set by default (``src/run_classify_text.py``)."""
