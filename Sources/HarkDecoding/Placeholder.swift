// HarkDecoding
