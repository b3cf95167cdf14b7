"""Training with Keras: `cnndsl train` and `cnndsl evaluate` (docs/training.md).

`arrays` opens the data without TensorFlow and checks it against the network; `defaults`
picks the loss and metrics a learner need not know; `pipeline` feeds it to Keras through
tf.data; `distribute` picks the tf.distribute strategy; `fit` runs `model.fit` with
Keras's callbacks; `evaluation` measures a trained model.

Imports: `backends` (the Keras build and `.keras` loading), `graph`, `support`; never
`commands`: the `train` and `evaluate` commands call into it.
"""
