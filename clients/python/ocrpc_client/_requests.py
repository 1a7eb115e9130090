# SPDX-License-Identifier: MIT
"""Request building shared by :class:`~ocrpc_client.OcrClient` and
:class:`~ocrpc_client.AsyncOcrClient`: one place that checks the
arguments (exactly one image source, no empty image) and fills the
messages, so both clients send the same thing for the same call."""

import os

from ._gen import ocr_pb2

EMPTY_IMAGE = ("image is empty (0 bytes): not an image (proto3 cannot tell "
               "empty bytes from no image, so the server would only say "
               "'no image in the request')")


def path_str(p):
    return os.fsdecode(p) if isinstance(p, os.PathLike) else p


def _image_bytes(data):
    data = bytes(data)
    if not data:
        raise ValueError(EMPTY_IMAGE)
    return data


def _set_options(msg, options):
    for k, v in (options or {}).items():
        msg.options.data[str(k)] = str(v)


def extract_request(path=None, image_data=None, language=None,
                    confidence_threshold=None, use_angle_cls=False,
                    options=None):
    """An ``OCRRequest``. Raises ValueError: not exactly one of path and
    image_data, or image_data empty."""
    if (path is None) == (image_data is None):
        raise ValueError("give exactly one of path and image_data")
    req = ocr_pb2.OCRRequest(use_angle_cls=bool(use_angle_cls))
    if path is not None:
        req.private_image_path = path_str(path)
    else:
        req.image_data = _image_bytes(image_data)
    if language is not None:
        req.language = language
    if confidence_threshold is not None:
        req.confidence_threshold = float(confidence_threshold)
    _set_options(req, options)
    return req


def batch_request(images, language=None, batch_id=None,
                  confidence_threshold=None, use_angle_cls=False,
                  options=None, completion_order=True):
    """An ``OCRBatchRequest``. ``images``: paths (``str`` /
    ``os.PathLike``), image bytes, or ``ocr_pb2.ImagePath``. Raises
    TypeError for anything else, ValueError for empty bytes."""
    req = ocr_pb2.OCRBatchRequest(use_angle_cls=bool(use_angle_cls),
                                  completion_order=bool(completion_order))
    for img in images:
        if isinstance(img, ocr_pb2.ImagePath):
            req.image_paths.append(img)
        elif isinstance(img, (bytes, bytearray, memoryview)):
            req.image_paths.add(data=_image_bytes(img))
        elif isinstance(img, (str, os.PathLike)):
            req.image_paths.add(private_path=path_str(img))
        else:
            raise TypeError("image must be a path, bytes or ImagePath, "
                            "not %s" % type(img).__name__)
    if language is not None:
        req.language = language
    if batch_id is not None:
        req.batch_id = batch_id
    if confidence_threshold is not None:
        req.confidence_threshold = float(confidence_threshold)
    _set_options(req, options)
    return req
