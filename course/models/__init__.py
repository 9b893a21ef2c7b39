"""Models written for the course: kernel ridge regression that fits QM9-sized problems on a laptop."""
