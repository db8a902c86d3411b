"""Pixels in and out: image and mask files, the PNG writer, hole masks and their generators, input discovery."""
