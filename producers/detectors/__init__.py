"""Detector plugins: motion blobs, OpenCV HOG people, ONNX YOLO models, synthetic ground truth.

``producers.detectors.factory.build_detector`` builds one from a camera's detector block.
"""
