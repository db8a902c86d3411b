"""Running a model on photos: the Inpainter, strategies per image, the Runner, torch and ONNX backends, seam blending."""
