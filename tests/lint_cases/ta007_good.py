import keras

from training_aware import override_modes

model = keras.Sequential([keras.layers.Dropout(0.5)])
with override_modes(model, {keras.layers.Dropout: True}):
    pass
