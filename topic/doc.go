// Package topic validates MQTT topic names and topic filters, applies the
// rules for topics that start with '$', parses shared subscription filters
// ($share/GROUP/FILTER), and indexes subscriptions so that finding the ones
// that match a topic name costs time in proportion to the topic's depth, not
// to the number of subscriptions.
package topic
