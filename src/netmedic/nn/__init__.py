"""The NumPy engine: layers, fused losses, initializers, optimizers, schedules, model specs.

Every layer follows the contract of :mod:`netmedic.nn.layer`; every result is checked against
PyTorch autograd in float64 by the test suite.
"""

from netmedic.nn.activations import ELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from netmedic.nn.clip import clip_grad_norm, clip_grad_value, global_norm
from netmedic.nn.conv import Conv2D
from netmedic.nn.dense import Dense
from netmedic.nn.dropout import Dropout
from netmedic.nn.init import INITIALIZERS, get_initializer
from netmedic.nn.layer import Layer
from netmedic.nn.losses import MSE, BCEWithLogits, SoftmaxCrossEntropy, get_loss
from netmedic.nn.model import Sequential
from netmedic.nn.norm import BatchNorm, LayerNorm
from netmedic.nn.optim import SGD, Adam, AdamW, Optimizer, RMSprop, make_optimizer
from netmedic.nn.pool import AvgPool2D, GlobalAvgPool, MaxPool2D
from netmedic.nn.regularize import Penalty
from netmedic.nn.reshape import Flatten
from netmedic.nn.schedules import Schedule
from netmedic.nn.spec import ModelSpec, build_model, parse_model_spec

__all__ = [
    "ELU", "Identity", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh",
    "clip_grad_norm", "clip_grad_value", "global_norm", "Dense", "INITIALIZERS",
    "get_initializer", "Layer", "MSE", "BCEWithLogits", "SoftmaxCrossEntropy", "get_loss",
    "Sequential", "SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "make_optimizer", "Penalty",
    "Schedule", "ModelSpec", "build_model", "parse_model_spec",
    "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool", "Flatten", "BatchNorm", "LayerNorm",
    "Dropout",
]
