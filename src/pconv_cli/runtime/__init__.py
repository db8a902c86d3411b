"""Running a model on photos: the Inpainter, per-image strategies, the Runner, torch and ONNX backends, blending."""
