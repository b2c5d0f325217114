// HarkModel
