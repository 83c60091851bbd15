"""3.1.1-3.1.5: small gradio 6 apps, one per book section (see ../README.md)."""
