"""Sample-quality metrics: pure math on features (``fid``, ``kid``, ``inception_score``, ``prdc``),
the feature extractors (``features``, ``inception``, ``classifier``) and streaming scoring
(``evaluate``). Import from the module that defines a name."""
