"""Offline data sets: QM9 from the qm9pack wheel, CMB power spectra made with CAMB, toy data."""
