"""Deployment of fine-tuned CTC models, inference only (nothing here trains): streaming with a
carried state, SummaryMixing's running sum or the MHSA baseline's key/value cache
(:mod:`efficient_ssl.deploy.streaming`), and ONNX export, offline or chunked with the state as
explicit inputs/outputs, with int8 quantisation (:mod:`efficient_ssl.deploy.export`, needs the
``deploy`` extra: ``pip install -e .[deploy]``).

Authors
 * efficient_ssl contributors 2026
"""
