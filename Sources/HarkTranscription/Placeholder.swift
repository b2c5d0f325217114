// HarkTranscription
