import keras.backend as K
from keras.backend import set_learning_phase

set_learning_phase(1)
print(K.learning_phase())
