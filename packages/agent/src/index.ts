/**
 * @initguard/agent: the guest agent. Nothing here is built yet; issue 12 fills it.
 *
 * @module
 */
export {}
