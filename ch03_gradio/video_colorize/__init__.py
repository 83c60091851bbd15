"""3.1.6: a video colourisation service (gradio UI + pluggable colourisers)."""
