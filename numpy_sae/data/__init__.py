"""Audio and data: reading WAV/AU, downsampling, windows, GTZAN trees and their cache, the
synthetic dataset, input features and splits. Nothing here imports the network."""
