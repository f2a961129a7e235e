"""The DNN classifier as a ``tf.Module`` whose checkpoint keys read as the network.

A Keras 3 model saved through ``tf.train.Checkpoint`` yields keys such as
``optimizer/_trainable_variables/0/...``, which say nothing about the network. Here every variable
sits at an attribute path that names it — ``dnn/hiddenlayer_0/kernel``,
``dnn/logits/bias``, ``global_step`` — and the optimizer exposes its slots
through ``get_slot_names``/``get_slot``, which TensorFlow's object-based saver
stores next to their variable as
``dnn/hiddenlayer_0/kernel/.OPTIMIZER_SLOT/optimizer/accumulator``.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from ckptgui.modeldir.config import OPTIMIZER_SLOTS, NetworkConfig

ACTIVATION_FUNCTIONS = {
    "relu": tf.nn.relu,
    "tanh": tf.nn.tanh,
    "sigmoid": tf.nn.sigmoid,
    "elu": tf.nn.elu,
    "linear": tf.identity,
}


class Dense(tf.Module):
    """One fully connected layer: ``kernel`` and ``bias``, Glorot-uniform and zeros as Estimator."""

    def __init__(self, in_units: int, out_units: int, seed: int | None, name: str) -> None:
        super().__init__(name=name)
        limit = (6.0 / (in_units + out_units)) ** 0.5
        shape = (in_units, out_units)
        if seed is None:
            initial = tf.random.uniform(shape, -limit, limit)
        else:
            initial = tf.random.stateless_uniform(shape, seed=(seed, 0), minval=-limit, maxval=limit)
        self.kernel = tf.Variable(initial, name="kernel")
        self.bias = tf.Variable(tf.zeros((out_units,)), name="bias")

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.matmul(inputs, self.kernel) + self.bias


class DNN(tf.Module):
    """Hidden layers ``hiddenlayer_0..N-1`` and a ``logits`` layer."""

    def __init__(self, network: NetworkConfig, n_features: int, n_classes: int, seed: int | None = None) -> None:
        super().__init__(name="dnn")
        self.activation = ACTIVATION_FUNCTIONS[network.activation]
        self.dropout = network.dropout or 0.0
        self.n_hidden = len(network.hidden_units)
        width = n_features
        for index, units in enumerate(network.hidden_units):
            layer = Dense(width, units, None if seed is None else seed + index, f"hiddenlayer_{index}")
            setattr(self, f"hiddenlayer_{index}", layer)
            width = units
        self.logits = Dense(width, n_classes, None if seed is None else seed + 1000, "logits")

    @property
    def hidden(self) -> list[Dense]:
        """The hidden layers in order (not stored as a list: that would add a second checkpoint path)."""
        return [getattr(self, f"hiddenlayer_{index}") for index in range(self.n_hidden)]

    def __call__(self, features: tf.Tensor, training: bool = False) -> tf.Tensor:
        net = features
        for layer in self.hidden:
            net = self.activation(layer(net))
            if training and self.dropout > 0:
                net = tf.nn.dropout(net, rate=self.dropout)
        return self.logits(net)

    def named_variables(self) -> dict[str, tf.Variable]:
        """Trainable variables by their checkpoint name, in layer order."""
        named: dict[str, tf.Variable] = {}
        for index, layer in enumerate([*self.hidden, self.logits]):
            prefix = "dnn/logits" if layer is self.logits else f"dnn/hiddenlayer_{index}"
            named[f"{prefix}/kernel"] = layer.kernel
            named[f"{prefix}/bias"] = layer.bias
        return named


class _SlotTable:
    """Slot variables by primary variable; a plain object so tf.Module does not track it.

    Tracking them as ordinary children would save every slot twice and makes
    TensorFlow's saver refuse them as slot variables.
    """

    def __init__(self) -> None:
        self.by_variable: dict[int, dict[str, tf.Variable]] = {}


class Optimizer(tf.Module):
    """Adagrad, SGD, Adam or RMSprop with per-variable slots TensorFlow saves as ``.OPTIMIZER_SLOT``.

    Slots are created eagerly for every variable up front, so the compiled
    training loop never creates variables and a restore finds them in place.
    """

    SLOTS = OPTIMIZER_SLOTS
    ADAGRAD_INITIAL_ACCUMULATOR = 0.1
    EPSILON = 1e-7

    def __init__(self, name_: str, learning_rate: float, variables: Sequence[tf.Variable]) -> None:
        super().__init__(name="optimizer")
        self.kind = name_
        self.learning_rate = tf.Variable(learning_rate, dtype=tf.float32, trainable=False, name="learning_rate")
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self._slot_table = _SlotTable()
        for variable in variables:
            initial = self.ADAGRAD_INITIAL_ACCUMULATOR if name_ == "Adagrad" else 0.0
            self._slot_table.by_variable[id(variable)] = {
                slot: tf.Variable(tf.fill(variable.shape, initial), trainable=False, name=slot)
                for slot in self.SLOTS[name_]
            }

    # The two methods TensorFlow's object-based saver looks for on an optimizer.
    def get_slot_names(self) -> list[str]:
        return list(self.SLOTS[self.kind])

    def get_slot(self, variable: tf.Variable, slot_name: str) -> tf.Variable | None:
        return self._slot_table.by_variable.get(id(variable), {}).get(slot_name)

    def _create_or_restore_slot_variable(self, slot_variable_position: object, slot_name: str, variable: tf.Variable):
        """Restore hook: the slot already exists, so hand it over to be filled."""
        return self.get_slot(variable, slot_name)

    def apply(self, grads_and_vars: Sequence[tuple[tf.Tensor, tf.Variable]]) -> None:
        self.iterations.assign_add(1)
        lr = self.learning_rate
        for grad, var in grads_and_vars:
            slots = self._slot_table.by_variable[id(var)]
            if self.kind == "SGD":
                var.assign_sub(lr * grad)
            elif self.kind == "Adagrad":
                acc = slots["accumulator"]
                acc.assign_add(tf.square(grad))
                var.assign_sub(lr * grad / (tf.sqrt(acc) + self.EPSILON))
            elif self.kind == "RMSprop":
                rms = slots["rms"]
                rms.assign(0.9 * rms + 0.1 * tf.square(grad))
                var.assign_sub(lr * grad / (tf.sqrt(rms) + self.EPSILON))
            else:  # Adam
                m, v = slots["m"], slots["v"]
                t = tf.cast(self.iterations, tf.float32)
                m.assign(0.9 * m + 0.1 * grad)
                v.assign(0.999 * v + 0.001 * tf.square(grad))
                m_hat = m / (1 - tf.pow(0.9, t))
                v_hat = v / (1 - tf.pow(0.999, t))
                var.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + self.EPSILON))


class Classifier:
    """The network, its optimizer and the global step, bound into one ``tf.train.Checkpoint``."""

    def __init__(self, network: NetworkConfig, n_features: int, n_classes: int, seed: int | None = None) -> None:
        self.network = network
        self.n_features = n_features
        self.n_classes = n_classes
        self.dnn = DNN(network, n_features, n_classes, seed)
        self.trainable = list(self.dnn.named_variables().values())
        self.optimizer = Optimizer(network.optimizer, network.learning_rate, self.trainable)
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.checkpoint = tf.train.Checkpoint(dnn=self.dnn, optimizer=self.optimizer, global_step=self.global_step)

    def loss_and_accuracy(self, features: tf.Tensor, labels: tf.Tensor, training: bool = False) -> tuple:
        logits = self.dnn(features, training=training)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        correct = tf.equal(tf.argmax(logits, axis=1, output_type=labels.dtype), labels)
        return loss, tf.reduce_mean(tf.cast(correct, tf.float32))

    def train_step(self, features: tf.Tensor, labels: tf.Tensor) -> tuple:
        """One step on this replica's share of the batch; the loss and accuracy of the whole batch.

        Under a strategy with N replicas (equal shares), the gradients and metrics are all-reduced as their
        MEAN, which is those of the whole batch: every replica applies the same update, so the mirrored
        copies stay equal, and the step is the single-device step on the same batch.
        """
        with tf.GradientTape() as tape:
            loss, accuracy = self.loss_and_accuracy(features, labels, training=True)
        grads = tape.gradient(loss, self.trainable)
        replicas = tf.distribute.get_replica_context()
        if replicas is not None and replicas.num_replicas_in_sync > 1:
            grads = replicas.all_reduce(tf.distribute.ReduceOp.MEAN, grads)
            loss, accuracy = replicas.all_reduce(tf.distribute.ReduceOp.MEAN, [loss, accuracy])
        self.optimizer.apply(list(zip(grads, self.trainable, strict=True)))
        self.global_step.assign_add(1)
        return loss, accuracy

    def probabilities(self, features: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(self.dnn(features))
