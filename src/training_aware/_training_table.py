"""Keras layers by what their `call` does with `training`. GENERATED, do not edit.

Made by scripts/generate_training_table.py from keras 3.15.1.
"""

KERAS_VERSION = "3.15.1"

# Public names in `keras.layers` whose `call` declares `training` and reads it.
USES_TRAINING: frozenset[str] = frozenset(
    {
        "AdditiveAttention",
        "AlphaDropout",
        "Attention",
        "AugMix",
        "AutoContrast",
        "BatchNormalization",
        "Bidirectional",
        "CenterCrop",
        "ContrastLimitedAdaptiveHistogramEqualization",
        "ConvLSTM1D",
        "ConvLSTM2D",
        "ConvLSTM3D",
        "CutMix",
        "Dropout",
        "Equalization",
        "FlaxLayer",
        "GRU",
        "GRUCell",
        "GaussianDropout",
        "GaussianNoise",
        "GroupQueryAttention",
        "JaxLayer",
        "LSTM",
        "LSTMCell",
        "Lambda",
        "MaxNumBoundingBoxes",
        "MixUp",
        "MultiHeadAttention",
        "Pipeline",
        "RNN",
        "RandAugment",
        "RandomBrightness",
        "RandomColorDegeneration",
        "RandomColorJitter",
        "RandomContrast",
        "RandomCrop",
        "RandomElasticTransform",
        "RandomErasing",
        "RandomFlip",
        "RandomGaussianBlur",
        "RandomGrayscale",
        "RandomHue",
        "RandomInvert",
        "RandomPerspective",
        "RandomPosterization",
        "RandomRotation",
        "RandomSaturation",
        "RandomSharpness",
        "RandomShear",
        "RandomTranslation",
        "RandomZoom",
        "Resizing",
        "SimpleRNN",
        "SimpleRNNCell",
        "Solarization",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "SpectralNormalization",
        "StackedRNNCells",
        "TFSMLayer",
        "TimeDistributed",
        "TorchModuleWrapper",
    }
)

# Public names whose `call` declares `training` but never reads it (Dense, EinsumDense).
IGNORES_TRAINING: frozenset[str] = frozenset(
    {
        "Dense",
        "EinsumDense",
    }
)
