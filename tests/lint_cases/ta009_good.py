import tf_keras

model = tf_keras.Sequential([tf_keras.layers.Dropout(0.5)])
print(model(tf_keras.Input((4,)), training=False))
