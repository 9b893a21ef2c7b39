"""Explanations of trained models: occlusion (Module 3), LRP (Module 5), SHAP and LIME (Module 6)."""
