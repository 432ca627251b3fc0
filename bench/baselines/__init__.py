"""Methods the benchmark compares the pipeline's own against; never imported by the pipeline."""
