"""Published ImageNet weights: where they come from, how they are fetched and read, and how they
are put into the zoo's paper-faithful models."""
