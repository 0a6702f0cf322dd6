import tf_keras
from tf_keras import backend as K

model = tf_keras.Sequential([tf_keras.layers.Dropout(0.5)])
print(K.learning_phase())
