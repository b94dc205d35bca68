"""The network: VGG-19 with neural-style's layer names and its weights (network), the CPU's Winograd
convolutions it uses past the fp32 floor (winograd), and the on-disk cache of the dequantised embedded
weights (cache). Nothing here knows about styles: the rest of the package asks it for features."""
