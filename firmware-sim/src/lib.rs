//! ewoda-sim (firmware-sim): a simulated fleet of water meters and the devices that carry
//! their data, speaking the real protocols over real transports, with ground truth.
