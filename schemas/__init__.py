"""Every contract: input models, instrument registry."""
