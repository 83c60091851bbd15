"""3.2: cats-vs-dogs dataset, a small ResNet, a training loop and a gradio training/prediction UI."""
