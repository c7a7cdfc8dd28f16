# This package's runtime: mmdet's default runtime plus what every config of
# mmdet_dynamic needs, given once here.
# - custom_imports: mmdet's own tools (tools/train.py, tools/test.py,
#   DetInferencer) import the package, which registers its modules;
# - default_scope: names resolve in this package's registries first, then in
#   mmdet's (its registries are children of mmdet's);
# - the visualizer: drawn results (tools/test.py --show-dir, DetInferencer)
#   show each image's route and difficulty score for a dynamic cascade, and
#   exactly what mmdet's DetLocalVisualizer draws for a plain detector.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmdet_dynamic'], allow_failed_imports=False)
default_scope = 'mmdet_dynamic'
visualizer = dict(_scope_='mmdet_dynamic', type='DynamicDetLocalVisualizer')
