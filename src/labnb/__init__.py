"""labnb: the generic lab-notebook run framework (run folders, config, model clients, usage)."""
