// TEMPORARY stub so the tree links while the driver is written.
#include "lstm/error.hpp"
#include "lstm/network.hpp"

namespace lstm {
template <typename T> struct Workspace<T>::State {};
template <typename T> Workspace<T>::Workspace() = default;
template <typename T> Workspace<T>::~Workspace() = default;
template <typename T> Workspace<T>::Workspace(Workspace&&) noexcept = default;
template <typename T> Workspace<T>& Workspace<T>::operator=(Workspace&&) noexcept = default;
template <typename T>
void Network<T>::forward(Mode, const ForwardArgs<T>&, Workspace<T>&) const { throw Error("not yet"); }
template <typename T>
void Network<T>::backward(const BackwardArgs<T>&, Workspace<T>&) const { throw Error("not yet"); }
template class Workspace<float>;
template class Workspace<double>;
template void Network<float>::forward(Mode, const ForwardArgs<float>&, Workspace<float>&) const;
template void Network<double>::forward(Mode, const ForwardArgs<double>&, Workspace<double>&) const;
template void Network<float>::backward(const BackwardArgs<float>&, Workspace<float>&) const;
template void Network<double>::backward(const BackwardArgs<double>&, Workspace<double>&) const;
}  // namespace lstm
