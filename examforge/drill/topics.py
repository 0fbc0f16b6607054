"""Readable names for topics (a type's `topic`) and the subjects that group them in the pickers.

A topic not listed here (an instructor's own, e.g. `normalization`) gets its id in words and
the subject "More topics", so every loaded question still appears in the picker.
"""

from __future__ import annotations

from examforge.question import QuestionType

SUBJECTS: dict[str, dict[str, str]] = {
    "Foundations": {
        "prob": "Probability", "estimation": "Estimation (MLE, MAP)", "info": "Information theory",
        "linalg": "Linear algebra", "jacobian": "Jacobians", "generalization": "Generalization",
    },
    "Classical models": {"logreg": "Logistic regression", "svm": "Support vector machines", "tree": "Decision trees"},
    "Neural networks and training": {
        "mlp": "Multilayer perceptrons", "backprop": "Backpropagation", "activations": "Activation functions",
        "optim": "Optimization", "optimization": "Optimization", "training": "Training practice",
        "memory": "Memory and compute", "normalization": "Normalization layers",
    },
    "Convolutional networks": {
        "conv": "Convolutions", "cnn": "CNN architectures", "pool": "Pooling", "transfer": "Transfer learning",
    },
    "Sequences and attention": {
        "softmax": "Softmax and cross-entropy", "rnn": "Recurrent networks", "attention": "Attention",
        "transformer": "Transformers", "tokenizer": "Tokenization",
    },
    "Representation learning": {"selfsup": "Self-supervised learning", "generative": "Generative models"},
}
OTHER = "More topics"
_NAMES = {topic: name for topics in SUBJECTS.values() for topic, name in topics.items()}
_SUBJECT = {topic: subject for subject, topics in SUBJECTS.items() for topic in topics}


def topic_name(topic: str) -> str:
    """"conv" -> "Convolutions"; an unknown topic in words ("batch_norm" -> "Batch norm")."""
    return _NAMES.get(topic) or topic.replace("_", " ").capitalize()


def subject_of(qtype: QuestionType) -> str:
    return _SUBJECT.get(qtype.topic, OTHER)

