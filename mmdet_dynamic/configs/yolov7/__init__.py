# Copyright (c) mmdet_dynamic contributors. All rights reserved.
