package broker

// logTypeKey marks the Mosquitto log_type of a line its slog level cannot
// tell: "subscribe", "unsubscribe", "websockets", "information", or
// "connection" for the connect and disconnect lines that
// connection_messages false drops. midge's command line filters on it
// (internal/cli.LogTypeKey); mark Info lines, and leave Warn and Error
// lines unmarked.
const logTypeKey = "log_type"

// logConnection is the log_type of the connect and disconnect lines.
const logConnection = "connection"
