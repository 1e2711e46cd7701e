"""One module per paper experiment: each turns its params section into a metrics record (see hebbdam.stages)."""
