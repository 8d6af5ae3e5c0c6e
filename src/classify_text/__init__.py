"""classify-text: label short texts with one label of a flat label set (a labnb task)."""
