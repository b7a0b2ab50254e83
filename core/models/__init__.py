"""Model families behind one interface (:class:`core.models.base.EmbeddingModel`)."""
