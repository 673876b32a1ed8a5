"""Deployment of fine-tuned CTC models, inference only (nothing here trains): streaming with a
carried state (:mod:`efficient_ssl.deploy.streaming`) and ONNX export with int8 quantisation
(:mod:`efficient_ssl.deploy.export`, needs the ``deploy`` extra: ``pip install -e .[deploy]``).

Authors
 * efficient_ssl contributors 2026
"""
