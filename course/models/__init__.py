"""Models written for the course: kernel ridge regression that fits QM9-sized problems on a laptop,
and the weave graph convolution on the Molecular Graph (``weave``, ``weave_data``, ``weave_training``)."""
