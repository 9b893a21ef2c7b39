"""Molecular representations: the Molecular Graph and the Coulomb-matrix family."""
