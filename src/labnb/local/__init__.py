"""The local model: the sentence encoder, embeddings, retrieval and the learners."""
