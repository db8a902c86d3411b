"""The network: the partial-convolution layer, the U-Net and its presets, the weights registry, ONNX export."""
