"""What a person sees on the terminal: safe text and the progress bar."""
