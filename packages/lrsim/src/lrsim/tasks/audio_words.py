"""`audio_words`: spoken-word classification, TFDS `speech_commands` (Warden 2018).

The paper's audio task was the Word-Speaker-Noise dataset of Feather et al. (2019), which
is not public. Speech Commands is its public stand-in here: one-second 16 kHz clips of
one of 12 classes (ten words, "silence", "unknown"); evaluation is on its test split.

Front end (tf.signal, inside the input pipeline): clips are cut or zero-padded to one
second, framed into 25 ms Hann windows every 10 ms (98 frames), turned into a power
spectrum (512-point FFT), pooled into `mel_bins` mel bands between 20 Hz and 7.6 kHz, and
log-compressed; each spectrogram is then standardised (zero mean, unit variance over its
frames and bands), so inputs are (98, mel_bins, 1) images that any 2-D architecture takes.
Prepare the data once with `lrsim run --task audio_words --download` or
`tfds build speech_commands`.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from lrsim.tasks import common, tfds_data
from lrsim.tasks.base import Task

SAMPLE_RATE = 16_000
CLIP_SAMPLES = SAMPLE_RATE
FRAME_LENGTH = 400  # 25 ms
FRAME_STEP = 160  # 10 ms
FFT_LENGTH = 512
LOWER_HZ = 20.0
UPPER_HZ = 7_600.0


def num_frames(clip_samples: int = CLIP_SAMPLES) -> int:
    """Spectrogram frames of a clip (no padding at the end)."""
    return 1 + (clip_samples - FRAME_LENGTH) // FRAME_STEP


def log_mel_spectrogram(audio: tf.Tensor, mel_bins: int = 40) -> tf.Tensor:
    """Standardised log-mel spectrogram (frames, mel_bins, 1) of a 16 kHz int16 clip of any length."""
    waveform = tf.cast(audio, tf.float32) / 32768.0
    waveform = waveform[:CLIP_SAMPLES]
    waveform = tf.pad(waveform, [[0, CLIP_SAMPLES - tf.shape(waveform)[0]]])
    spectrum = tf.signal.stft(waveform, FRAME_LENGTH, FRAME_STEP, FFT_LENGTH, window_fn=tf.signal.hann_window)
    power = tf.math.square(tf.abs(spectrum))
    to_mel = tf.signal.linear_to_mel_weight_matrix(mel_bins, FFT_LENGTH // 2 + 1, SAMPLE_RATE, LOWER_HZ, UPPER_HZ)
    log_mel = tf.math.log(tf.matmul(power, to_mel) + 1e-6)
    mean, variance = tf.nn.moments(log_mel, axes=[0, 1])
    standardised = (log_mel - mean) / tf.maximum(tf.sqrt(variance), 1e-3)
    return tf.ensure_shape(standardised[..., tf.newaxis], (num_frames(), mel_bins, 1))


class AudioWordsTask(Task):
    """Twelve-class spoken-word recognition from log-mel spectrograms."""

    name = "audio_words"
    dataset = "speech_commands"
    kind = "supervised"
    metric_name = "top1_accuracy"
    num_outputs = 12
    probe_pool = 10_000

    def __init__(self, *, data_dir: str | os.PathLike[str] | None = None, download: bool = False,
                 mel_bins: int = 40, shuffle_buffer: int = 10_000, eval_examples: int | None = None) -> None:
        """`shuffle_buffer` holds raw one-second clips (32 kB each): 10,000 is about 320 MB."""
        if mel_bins < 1:
            raise ValueError(f"mel_bins must be a positive integer, got {mel_bins!r}")
        if shuffle_buffer < 1:
            raise ValueError(f"shuffle_buffer must be a positive integer, got {shuffle_buffer!r}")
        if eval_examples is not None and eval_examples < 1:
            raise ValueError(f"eval_examples must be a positive integer or None (all), got {eval_examples!r}")
        self.mel_bins = mel_bins
        self.input_shape = (num_frames(), mel_bins, 1)
        self.shuffle_buffer = shuffle_buffer
        self.eval_examples = eval_examples
        self.builder = tfds_data.load_builder(self.dataset, data_dir=data_dir, download=download, task=self.name)
        self.num_train_examples = tfds_data.count_examples(self.builder, "train")
        self.num_test_examples = tfds_data.count_examples(self.builder, "test")

    def _features(self, example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        return log_mel_spectrogram(example["audio"], self.mel_bins), example["label"]

    def _labelled(self, split: str, limit: int | None = None, indices: np.ndarray | None = None) -> tf.data.Dataset:
        ds = tfds_data.read_split(self.builder, split, file_seed=None)
        ds = common.select_examples(ds, indices) if indices is not None else ds
        if limit is not None:
            ds = ds.take(limit)
        return ds.map(self._features, num_parallel_calls=tf.data.AUTOTUNE)

    def steps_per_epoch(self, batch_size: int) -> int:
        return common.steps_for(self.name, batch_size, self.num_train_examples)

    def train_batches(self, batch_size: int, dataset_seed: int, epoch: int) -> tf.data.Dataset:
        self.steps_per_epoch(batch_size)
        ds = tfds_data.shuffled_split(self.builder, "train", shuffle_buffer=self.shuffle_buffer,
                                      dataset_seed=dataset_seed, epoch=epoch)
        ds = ds.map(self._features, num_parallel_calls=tf.data.AUTOTUNE)
        return common.fixed_pipeline(ds.batch(batch_size, drop_remainder=True))

    def loss(self, model: keras.Model, batch: Any, training: bool = True) -> tf.Tensor:
        return common.supervised_loss(model, batch, training)

    def evaluate(self, model: keras.Model, batch_size: int = 256) -> float:
        batches = self._labelled("test", self.eval_examples).batch(batch_size)
        return common.top1_accuracy(model, common.fixed_pipeline(batches))

    def probe_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        pool = min(self.probe_pool, self.num_test_examples)
        indices = common.choose_probe_indices(pool, n, seed, self.name)
        ds = self._labelled("test", indices=indices)
        ds = ds.map(lambda inputs, _: inputs).batch(n)
        return np.asarray(next(iter(common.fixed_pipeline(ds, prefetch=False))), dtype=np.float32)
